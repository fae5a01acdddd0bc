export const AccountResolvers: Function[] = [];

export const accountEntities: Function[] = [];

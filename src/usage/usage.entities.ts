/** Entities of the usage domain. */
export const usageEntities: Function[] = [];

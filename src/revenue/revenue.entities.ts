/** Entities of the revenue domain. */
export const revenueEntities: Function[] = [];

/** Entities of the compliance domain. */
export const complianceEntities: Function[] = [];

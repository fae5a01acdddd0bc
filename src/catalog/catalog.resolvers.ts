export const CatalogResolvers: Function[] = [];

import DataLoader from 'dataloader';
import type { Db } from '../db/db';
import type { Feature, Product, ProductComponent, ProductFeature } from './catalog.entities';
import { catalogRepository, type EffectiveFeature } from './catalog.repository';
import { modelPricesOf, type ModelPriceRow } from './model-price.service';

/** Per-request loaders for the catalog's field resolvers: one statement per kind per tick. */
export interface CatalogLoaders {
  productById: DataLoader<string, Product | null>;
  featureById: DataLoader<string, Feature | null>;
  /** A product's own grants, by feature key. */
  grantsByProduct: DataLoader<string, ProductFeature[]>;
  /** A bundle's components, by component sku (empty for a plain product). */
  componentsByBundle: DataLoader<string, ProductComponent[]>;
  /** A product's flattened features (see CatalogService.effectiveFeatures). */
  effectiveFeaturesByProduct: DataLoader<string, EffectiveFeature[]>;
  /** A product's prices per model (model fit). */
  modelPricesByProduct: DataLoader<string, ModelPriceRow[]>;
}

export function createCatalogLoaders(db: Db): CatalogLoaders {
  const m = () => db.manager;
  return {
    productById: new DataLoader(async (ids) => {
      const found = await catalogRepository.productsByIds(m(), ids);
      return ids.map((id) => found.get(id) ?? null);
    }),
    featureById: new DataLoader(async (ids) => {
      const found = await catalogRepository.featuresByIds(m(), ids);
      return ids.map((id) => found.get(id) ?? null);
    }),
    grantsByProduct: new DataLoader(async (ids) => {
      const found = await catalogRepository.grantsByProduct(m(), ids);
      return ids.map((id) => found.get(id) ?? []);
    }),
    componentsByBundle: new DataLoader(async (ids) => {
      const found = await catalogRepository.componentsByBundle(m(), ids);
      return ids.map((id) => found.get(id) ?? []);
    }),
    effectiveFeaturesByProduct: new DataLoader(async (ids) => {
      const found = await catalogRepository.effectiveFeatures(m(), ids);
      return ids.map((id) => found.get(id) ?? []);
    }),
    modelPricesByProduct: new DataLoader(async (ids) => {
      const found = await modelPricesOf(m(), ids);
      return ids.map((id) => found.get(id) ?? []);
    }),
  };
}

/**
 * The connector registry: every connector type the hub can create, by its `type`. The sync
 * engine looks a connection's type up here.
 */
import { csvConnector } from './csv';
import { netsuiteConnector } from './netsuite';
import { salesforceConnector } from './salesforce';
import type { ConnectorFactory } from './types';

export const connectorFactories: Record<string, ConnectorFactory> = {
  [salesforceConnector.type]: salesforceConnector,
  [csvConnector.type]: csvConnector,
  [netsuiteConnector.type]: netsuiteConnector,
};

import { netsuiteBase, recordUrl, salesforceBase } from './customer360.links';

describe('recordUrl', () => {
  const sf = (options: Record<string, unknown>) => ({ type: 'salesforce', options });
  const ns = (options: Record<string, unknown>) => ({ type: 'netsuite', options });

  it('links a Salesforce record through the instance URL option', () => {
    expect(recordUrl(sf({ instanceUrl: 'https://acme.my.salesforce.com/' }), 'Account', '001xx000003DGb2AAG')).toBe(
      'https://acme.my.salesforce.com/lightning/r/Account/001xx000003DGb2AAG/view',
    );
    expect(recordUrl(sf({ instanceUrl: 'https://acme.lightning.force.com' }), 'Opportunity', '006xx000001a2b3')).toBe(
      'https://acme.lightning.force.com/lightning/r/Opportunity/006xx000001a2b3/view',
    );
  });

  it('falls back to a My Domain login URL, never to the shared login hosts', () => {
    expect(salesforceBase({ loginUrl: 'https://acme.my.salesforce.com' })).toBe('https://acme.my.salesforce.com');
    expect(salesforceBase({ loginUrl: 'https://login.salesforce.com' })).toBeNull();
    expect(salesforceBase({ loginUrl: 'https://test.salesforce.com' })).toBeNull();
    expect(salesforceBase({})).toBeNull(); // the connector's default login host
    expect(recordUrl(sf({ loginUrl: 'https://login.salesforce.com' }), 'Account', '001xx000003DGb2AAG')).toBeNull();
  });

  it('refuses what is not a Salesforce id or object name (no injected paths)', () => {
    const base = sf({ instanceUrl: 'https://acme.my.salesforce.com' });
    expect(recordUrl(base, 'Account', '001/../../x')).toBeNull();
    expect(recordUrl(base, 'Acc ount', '001xx000003DGb2AAG')).toBeNull();
    expect(recordUrl(sf({ instanceUrl: 'javascript:alert(1)' }), 'Account', '001xx000003DGb2AAG')).toBeNull();
  });

  it('links a NetSuite customer by account id, sandboxes hyphenated', () => {
    expect(recordUrl(ns({ accountId: '1234567' }), 'customer', '42')).toBe('https://1234567.app.netsuite.com/app/common/entity/custjob.nl?id=42');
    expect(recordUrl(ns({ accountId: '1234567_SB1' }), 'Account', '42')).toBe('https://1234567-sb1.app.netsuite.com/app/common/entity/custjob.nl?id=42');
    expect(netsuiteBase({ accountId: 'bad id' })).toBeNull();
  });

  it('gives null when the base is unknown or the object has no known page', () => {
    expect(recordUrl(null, 'Account', '001xx000003DGb2AAG')).toBeNull();
    expect(recordUrl(ns({}), 'customer', '42')).toBeNull();
    expect(recordUrl(ns({ accountId: '1234567' }), 'salesorder', '42')).toBeNull();
    expect(recordUrl(ns({ accountId: '1234567' }), 'customer', 'abc')).toBeNull();
    expect(recordUrl({ type: 'csv', options: {} }, 'Account', 'A-1')).toBeNull();
  });
});

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findField, findSObject } from './emulator/schema';
import { DEFAULT_ACCOUNT_FIELDS, DEFAULT_ENTITLEMENT_FIELDS } from './options';

/**
 * The SFDX project in metadata/ must define every custom Account field the connector writes
 * by default — with a field-meta.xml of a type the emulator agrees with, and edit access in
 * the Ehub_Integration permission set — so a field added to the connector cannot be
 * forgotten in the org's metadata (an Account write naming a missing field fails INVALID_FIELD).
 */
const root = join(__dirname, 'metadata', 'force-app', 'main', 'default');
const TYPES: Record<string, string[]> = {
  Currency: ['currency'],
  Number: ['double', 'int'],
  Percent: ['percent'],
  Date: ['date'],
  DateTime: ['datetime'],
  Checkbox: ['boolean'],
  Text: ['string'],
};

function fieldMeta(object: string): Map<string, string> {
  const dir = join(root, 'objects', object, 'fields');
  const out = new Map<string, string>();
  for (const f of readdirSync(dir)) {
    const xml = readFileSync(join(dir, f), 'utf8');
    const name = /<fullName>([^<]+)<\/fullName>/.exec(xml)?.[1];
    expect({ file: f, named: name !== undefined && f === `${name}.field-meta.xml` }).toEqual({ file: f, named: true });
    out.set(name!, /<type>([^<]+)<\/type>/.exec(xml)?.[1] ?? '');
  }
  return out;
}

describe('Salesforce metadata', () => {
  it('defines every custom Account field the connector writes by default, typed as the emulator has it, editable by the integration user', () => {
    const defined = fieldMeta('Account');
    const perms = readFileSync(join(root, 'permissionsets', 'Ehub_Integration.permissionset-meta.xml'), 'utf8');
    const editable = new Set([...perms.matchAll(/<fieldPermissions>\s*<editable>true<\/editable>\s*<field>([^<]+)<\/field>/g)].map((m) => m[1]));
    const account = findSObject('Account')!;
    const written = Object.values(DEFAULT_ACCOUNT_FIELDS).filter((f) => f.endsWith('__c'));
    expect(written.length).toBe(Object.keys(DEFAULT_ACCOUNT_FIELDS).length);
    for (const name of written) {
      const type = defined.get(name);
      const emulated = findField(account, name)?.type;
      expect({ name, defined: type !== undefined, editable: editable.has(`Account.${name}`), emulated: emulated !== undefined }).toEqual({ name, defined: true, editable: true, emulated: true });
      expect({ name, type, agrees: (TYPES[type!] ?? []).includes(emulated!) }).toEqual({ name, type, agrees: true });
    }
    // Nothing defined on Account that the connector does not write.
    expect([...defined.keys()].sort()).toEqual([...written].sort());
  });

  it('defines the custom fields of the entitlement object the connector upserts', () => {
    const defined = fieldMeta('Ehub_Entitlement__c');
    for (const name of Object.values(DEFAULT_ENTITLEMENT_FIELDS).filter((f) => f.endsWith('__c'))) expect({ name, defined: defined.has(name) }).toEqual({ name, defined: true });
  });
});

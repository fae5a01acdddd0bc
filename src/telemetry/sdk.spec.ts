import { redactQueries, telemetryWanted, withoutQuery } from './sdk';

describe('telemetryWanted', () => {
  it.each([
    [{}, false],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }, true],
    [{ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' }, true],
    [{ OTEL_TRACES_EXPORTER: 'otlp' }, true],
    [{ OTEL_TRACES_EXPORTER: 'none' }, false],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' }, false],
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'TRUE' }, false],
    [{ OTEL_SERVICE_NAME: 'x' }, false],
  ])('%j → %s', (env, want) => {
    expect(telemetryWanted(env as NodeJS.ProcessEnv)).toBe(want);
  });
});

describe('redactQueries', () => {
  it('cuts query strings off every URL attribute and blanks url.query', () => {
    const attributes: Record<string, unknown> = {
      'http.url': 'http://hub/v1/downloads/l/a/f.img?expires=1&signature=abc',
      'http.target': '/v1/devices/d/update?current=1.0.0',
      'url.full': 'https://x.salesforce.com/services/data/v62.0/query?q=SELECT+Id',
      'url.query': 'expires=1&signature=abc',
      'http.route': '/v1/downloads/:link/:artifact/:name',
    };
    const span = { attributes, setAttribute: (k: string, v: unknown) => (attributes[k] = v) };
    redactQueries(span as never);
    expect(attributes).toEqual({
      'http.url': 'http://hub/v1/downloads/l/a/f.img',
      'http.target': '/v1/devices/d/update',
      'url.full': 'https://x.salesforce.com/services/data/v62.0/query',
      'url.query': 'REDACTED',
      'http.route': '/v1/downloads/:link/:artifact/:name',
    });
    expect(JSON.stringify(attributes)).not.toContain('signature=');
    expect(withoutQuery('/a')).toBe('/a');
  });
});

// Imported first by run.ts: libraries read NODE_ENV when they load (graphql-js skips its
// development-only checks in production), so the hub is measured as the Docker image runs it.
process.env.NODE_ENV = 'production';
for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'ALL_PROXY', 'all_proxy']) delete process.env[k];

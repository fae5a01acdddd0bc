import 'reflect-metadata';

// Tests talk only to servers on this machine; a proxy setting would hijack those calls.
for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'ALL_PROXY', 'all_proxy']) delete process.env[k];
process.env.NODE_ENV = 'test';

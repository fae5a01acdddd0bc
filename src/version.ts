import pkg from '../package.json';

/** The hub's version, from package.json. */
export const VERSION: string = pkg.version;

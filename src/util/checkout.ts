import fs from 'node:fs';
import path from 'node:path';

/**
 * True when Balise runs from a git checkout (its build tools are there, so stale bundles are
 * rebuilt); false in an installed package or image, which serves the bundles built at pack time.
 */
export const IS_GIT_CHECKOUT = fs.existsSync(path.resolve(import.meta.dirname, '../../.git'));

// The one file of the product that reads package.json: bundled in (images/bundle.sh inlines
// it), so the image needs no package.json at run time. Outside the folder walls on purpose.
// eslint-disable-next-line walls/imports -- the product's version, from its one source
import packageJson from '../package.json' with { type: 'json' };

/** The product's version (package.json), as the build_info metrics report it. */
export const PRODUCT_VERSION: string = packageJson.version;

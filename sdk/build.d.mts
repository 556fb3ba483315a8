/** Types of build.mjs for TypeScript callers (the server and the tests). */
export interface SdkBuildSizes {
  minified: number;
  gzipped: number;
  snippetGzipped: number;
}
export function buildSdk(options?: { declarations?: boolean }): Promise<SdkBuildSizes>;
export function buildDeclarations(): Promise<void>;
export function browserSizes(): Promise<{ core: number; snippet: number }>;

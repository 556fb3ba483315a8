export declare const OUT_FILE: string;
export declare const LIVE_OUT_FILE: string;
export declare function buildDashboard(options?: { minify?: boolean }): Promise<number>;

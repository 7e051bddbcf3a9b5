// Types of format.js for the TypeScript unit test (the page itself loads format.js directly).
export declare const ALGORITHMS: string[];
export declare const HASHING: Set<string>;
export declare const PALETTE: string[];
export declare function color(i: number): string;
export declare function pct(x: unknown, digits?: number): string;
export declare function count(n: unknown): string;
export declare function rate(n: unknown): string;
export declare function ms(x: unknown): string;
export declare function stateOf(e: { state: string; health?: string; weightFactor?: number }): { label: string; cls: string };
export declare function runs(owners: number[]): { owner: number; start: number; end: number }[];
export declare function ownerShares(owners: number[], endpoints: number): number[];
export declare function polar(cx: number, cy: number, r: number, f: number): [number, number];
export declare function arcPath(cx: number, cy: number, r0: number, r1: number, f0: number, f1: number): string;
export declare class SSEParser {
  feed(chunk: string): { event: string; data: string; id: string | null }[];
}
export declare function apiError(status: number, body: unknown): string;
export declare function eventLine(ev: { kind: string; pool?: string | null; server?: string | null; to: string; reason: string; actor?: string }): string;
export declare function clock(iso: string): string;

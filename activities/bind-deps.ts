/**
 * Activities are top-level functions that take their dependencies first
 * (`dumpToS3(deps, input)`): each reads and tests on its own. A factory binds
 * them to one process's dependencies, giving the object the Worker registers
 * (by key) and workflows type their proxies with.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any activity signature after its deps
type ActivityOf<D> = (deps: D, ...args: any[]) => Promise<unknown>;

export type Bound<D, F extends Record<string, ActivityOf<D>>> = {
  [K in keyof F]: F[K] extends (deps: D, ...args: infer A) => infer R ? (...args: A) => R : never;
};

export function bindDeps<D, F extends Record<string, ActivityOf<D>>>(deps: D, activities: F): Bound<D, F> {
  return Object.fromEntries(Object.entries(activities).map(([name, activity]) => [name, (...args: unknown[]) => activity(deps, ...args)])) as Bound<D, F>;
}

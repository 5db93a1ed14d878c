/** aedes-persistence-level 9 ships no typings: its default export builds an aedes persistence on an abstract-level database. */
declare module 'aedes-persistence-level' {
  /** Returns the persistence (callback and promise API, as aedes-persistence 11) backed by `db`. */
  export default function createLevelPersistence(db: unknown): unknown;
}

/**
 * One numbered schema change. Each backend keeps its own ordered list (`sqlite/migrations.ts`,
 * `postgres/migrations.ts`); applied migrations are never edited, a change is a new entry with the
 * next version, and another module may contribute an entry to a list (the outbox does).
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

/** Sorted by version; throws when a version is invalid or used twice (two contributors collided). */
export function checkedMigrationOrder(migrations: readonly Migration[]): Migration[] {
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  sorted.forEach((migration, index) => {
    if (!Number.isSafeInteger(migration.version) || migration.version < 1) {
      throw new Error(`migration "${migration.name}" has an invalid version ${migration.version}`);
    }
    const previous = sorted[index - 1];
    if (previous !== undefined && previous.version === migration.version) {
      throw new Error(`migrations "${previous.name}" and "${migration.name}" share version ${migration.version}`);
    }
  });
  return sorted;
}

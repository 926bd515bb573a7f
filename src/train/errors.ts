// Errors of the run folder that are the caller's to fix (the CLI maps them to exit code 2, bad usage).

/** A run folder that cannot be used as asked (locked, already a run, nothing to resume, not a run, foreign files): a usage error, exit 2. */
export class RunFolderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunFolderError';
  }
}

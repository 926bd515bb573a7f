// Errors of the run folder that are the caller's to fix (the CLI maps them to exit code 2, bad usage).

/** `--out` already holds a run and neither resume nor overwrite was asked for. */
export class RunFolderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunFolderError';
  }
}

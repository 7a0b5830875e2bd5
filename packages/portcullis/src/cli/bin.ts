#!/usr/bin/env node
/** The `portcullis` executable: argv to commands. No business logic lives here. */
import { createProgram } from './program.ts';

createProgram()
  .parseAsync(process.argv)
  .catch((error: unknown) => {
    process.stderr.write(`portcullis: ${(error as Error).message}\n`);
    process.exitCode = 1;
  });

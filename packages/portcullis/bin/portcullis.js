#!/usr/bin/env node
// A committed shim: npm links package bins at install time, before `prepare` has compiled
// dist/, so the bin must be a file that already exists. It runs the compiled CLI.
import '../dist/cli/bin.js';

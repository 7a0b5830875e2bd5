#!/usr/bin/env -S node --max-semi-space-size=2
// A committed shim: npm links package bins at install time, before `prepare` has built
// dist/, so the bin must be a file that already exists. It runs the bundled CLI
// (scripts/bundle.mjs).
//
// --max-semi-space-size=2 (MB): V8 grows its young generation up to 2 x 64 MB under load and
// keeps it; with it capped, the identity provider idles at ~96 MB instead of ~101 MB and a
// busy proxy stays small, with no throughput change measured in bench/ (proxy and static
// 1 KB, logins, grants). Run without this shim (`node dist/bundle/portcullis.js`), give the
// flag yourself or through NODE_OPTIONS.
import '../dist/bundle/portcullis.js';

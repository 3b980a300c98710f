#!/usr/bin/env node
'use strict'
// The `fivelens` command: the same implementation as the Python package's (in the core).
const { load } = require('../lib/native')

const addon = load()
if (!addon) {
  console.error('fivelens: the native addon could not be loaded')
  process.exit(1)
}
process.exitCode = addon.cliMain(process.argv.slice(2))

'use strict'
// Copies the addon cargo built into the package, under the platform name the loader expects
// (`fivelens.<platform>-<arch>[-<libc>].node`). Usage: node scripts/copy-addon.js debug|release
const fs = require('node:fs')
const path = require('node:path')
const { addonFileName } = require('../lib/native')

const profile = process.argv[2] === 'release' ? 'release' : 'debug'
const targetDir = process.env.CARGO_TARGET_DIR || path.join(__dirname, '..', '..', 'target')
const lib = { linux: 'libfivelens_node.so', darwin: 'libfivelens_node.dylib', win32: 'fivelens_node.dll' }[process.platform]
const from = path.join(targetDir, profile, lib)
const to = path.join(__dirname, '..', addonFileName())
fs.copyFileSync(from, to)
console.log(`${from} -> ${path.basename(to)}`)

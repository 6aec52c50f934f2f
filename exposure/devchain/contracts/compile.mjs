// SPDX-License-Identifier: MIT
// Compiles the devchain contracts with solc-js (the npm package `solc`, offline) and writes
// artifacts.json beside this file: {ContractName: {abi, bytecode, compiler, source_sha256}}.
//
// Run from anywhere:
//   node exposure/devchain/contracts/compile.mjs
// `solc` is looked up, in order, from: $SOLC_JS (path to the package folder), node_modules folders
// above this file, node_modules folders above the current directory, then $NODE_PATH; e.g.
//   NODE_PATH=/path/to/node_modules node exposure/devchain/contracts/compile.mjs
// or `npm install solc` in the repository root.

import { createHash } from 'node:crypto'
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))

function loadSolc() {
  const attempts = []
  if (process.env.SOLC_JS) attempts.push(() => createRequire(join(here, 'x.js'))(resolve(process.env.SOLC_JS)))
  attempts.push(() => createRequire(join(here, 'x.js'))('solc'))
  attempts.push(() => createRequire(join(process.cwd(), 'x.js'))('solc'))
  for (const p of (process.env.NODE_PATH || '').split(':').filter(Boolean)) {
    attempts.push(() => createRequire(join(resolve(p), 'x.js'))(join(resolve(p), 'solc')))
  }
  for (const attempt of attempts) {
    try {
      return attempt()
    } catch {
      // try the next place
    }
  }
  console.error('solc (solc-js) not found: run `npm install solc` in the repository root, or set NODE_PATH ' +
    'to a node_modules folder holding it, or SOLC_JS to the package folder.')
  process.exit(1)
}

const solc = loadSolc()
const files = readdirSync(here).filter((f) => f.endsWith('.sol')).sort()
const sources = {}
for (const f of files) sources[f] = { content: readFileSync(join(here, f), 'utf8') }

const input = {
  language: 'Solidity',
  sources,
  settings: {
    // paris: no PUSH0/MCOPY, so the bytecode also runs on older in-process EVMs.
    evmVersion: 'paris',
    optimizer: { enabled: true, runs: 200 },
    metadata: { bytecodeHash: 'none' },
    outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } },
  },
}

const output = JSON.parse(solc.compile(JSON.stringify(input)))
const errors = (output.errors || []).filter((e) => e.severity === 'error')
for (const e of output.errors || []) console.error(e.formattedMessage)
if (errors.length) process.exit(1)

const artifacts = {}
for (const f of files) {
  const sha = createHash('sha256').update(sources[f].content).digest('hex')
  for (const [name, c] of Object.entries(output.contracts[f] || {})) {
    artifacts[name] = {
      abi: c.abi,
      bytecode: '0x' + c.evm.bytecode.object,
      compiler: 'solc-js ' + solc.version(),
      source: f,
      source_sha256: sha,
    }
  }
}
const sorted = Object.fromEntries(Object.keys(artifacts).sort().map((k) => [k, artifacts[k]]))
writeFileSync(join(here, 'artifacts.json'), JSON.stringify(sorted, null, 1) + '\n')
console.log(`wrote ${Object.keys(sorted).length} contracts to ${join(here, 'artifacts.json')}`)

#!/usr/bin/env node
// Sends Filebeat-shaped events with the npm `lumberjack-client` (a real
// Lumberjack v2 encoder: every window is one zlib `C` frame of `J` frames) and
// waits until the server has ACKed every window.
//
// usage: lumberjack_send.js HOST PORT COUNT BATCH TLS(0|1) EXPECTED_OUT [CA_FILE]
//
// Writes to EXPECTED_OUT one line per event: the event as sent without its
// @metadata member (what a Logstash-compatible output stores). Prints
// "sent N events in W windows, acked W" and exits 0 once all windows are ACKed;
// exits 1 on a protocol error, 2 on timeout.
//
// The client sends a window per log() call once connected, and everything
// queued before the connection is up as one window. It exposes no way to send
// a window of several events on demand, so the script queues BATCH events as
// if still connecting and replays the client's own connect callback, which
// flushes the queue as one window. The client never reads ACKs: this script
// reads them from the client's socket.
'use strict'

const fs = require('fs')
const path = require('path')
const LumberjackClient = require(path.join(__dirname, 'node_modules', 'lumberjack-client'))

const [host, portText, countText, batchText, tlsText, expectedOut, caFile] = process.argv.slice(2)
const port = Number(portText)
const count = Number(countText)
const batch = Number(batchText)
const useTls = tlsText === '1'
if (!host || !port || !count || !batch || !expectedOut) {
  console.error('usage: lumberjack_send.js HOST PORT COUNT BATCH TLS(0|1) EXPECTED_OUT [CA_FILE]')
  process.exit(64)
}

function event(i) {
  const ts = new Date(Date.UTC(2026, 10, 21, 5, 30, 0, 0) + i).toISOString()
  return {
    '@timestamp': ts,
    '@metadata': { beat: 'filebeat', type: '_doc', version: '8.15.0' },
    message: `2026-11-21 05:30:00,${String(i % 1000).padStart(3, '0')} INFO [mes] calculation stage ${i} "quoted" \\ tab\t ünïcødé`,
    log: { file: { path: '/var/log/mes/calc.log' }, offset: i * 97 },
    input: { type: 'filestream' },
    agent: {
      ephemeral_id: '6f1b0a7e-0c2f-4d8e-9a51-3c1d2b7e8f90',
      id: 'c9a8e7d6-1234-4abc-8def-0123456789ab',
      name: 'mes-01',
      type: 'filebeat',
      version: '8.15.0',
    },
    ecs: { version: '8.0.0' },
    host: { name: 'mes-01' },
  }
}

const windows = [] // sizes, in send order
const expected = []
for (let i = 0; i < count; i++) {
  const e = event(i)
  const copy = { ...e }
  delete copy['@metadata']
  expected.push(JSON.stringify(copy))
}
fs.writeFileSync(expectedOut, expected.join('\n') + '\n')

const config = { host, port }
if (useTls) {
  config.ca = caFile ? [fs.readFileSync(caFile)] : undefined
  config.rejectUnauthorized = !!caFile
  config.servername = 'localhost'
}
const client = new LumberjackClient(config, useTls)
const connectEvent = useTls ? 'secureConnect' : 'connect'
// The client's own connect callback: marks it connected and flushes its queue as one window.
const flushAsWindow = client.socket.listeners(connectEvent)[0]

let next = 0
function queueBatch() {
  const n = Math.min(batch, count - next)
  for (let k = 0; k < n; k++) client.log(event(next + k))
  next += n
  windows.push(n)
}

// The first window is queued before the connection is up and flushed by the client itself.
queueBatch()

let acked = 0
let heartbeats = 0
let pending = Buffer.alloc(0)
const timer = setTimeout(() => {
  console.error(`timeout: ${acked} of ${windows.length} windows acked`)
  process.exit(2)
}, 60000)

client.socket.on(connectEvent, () => {
  client.socket.on('data', (data) => {
    pending = Buffer.concat([pending, data])
    while (pending.length >= 6) {
      if (pending[0] !== 0x32 || pending[1] !== 0x41) {
        console.error('not an ACK frame: ' + pending.slice(0, 6).toString('hex'))
        process.exit(1)
      }
      const seq = pending.readUInt32BE(2)
      pending = pending.slice(6)
      if (seq === 0) {
        heartbeats++
        continue
      }
      if (acked >= windows.length || seq !== windows[acked]) {
        console.error(`unexpected ACK ${seq}; window ${acked} has ${windows[acked]} events`)
        process.exit(1)
      }
      acked++
      if (acked === windows.length && next === count) {
        clearTimeout(timer)
        console.log(`sent ${count} events in ${windows.length} windows, acked ${acked}, heartbeats ${heartbeats}`)
        client.socket.destroy()
        process.exit(0)
      }
    }
  })
  client.socket.on('close', () => {
    if (acked < windows.length) {
      console.error(`connection closed with ${windows.length - acked} windows unacked`)
      process.exit(1)
    }
  })
  // The remaining windows, pipelined: they do not wait for earlier ACKs.
  setImmediate(() => {
    while (next < count) {
      client.connected = false
      client.connecting = true
      queueBatch()
      flushAsWindow()
    }
  })
})

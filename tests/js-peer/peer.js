// An ordinary js-libp2p gossipsub peer joining a Watt network as a follower, for
// tests/tests/js_peer.rs (issue 17: an honest js-libp2p peer must never be scored toward a ban).
//
//   node peer.js --genesis <16 hex chars> --seconds <n> <multiaddr/p2p/id>...
//
// It dials every node given, speaks what node/network/PROTOCOL.md asks (TCP, noise, yamux,
// identify with protocolVersion /watt/<g>/1, strictly signed gossipsub with the identity topic
// hash and Watt's message id) and otherwise behaves as js-libp2p does by default: every message
// is accepted without looking at it and forwarded to every mesh peer but the one it came from, so
// a validator gets its own messages back whenever this peer heard them first from another one.
//
// stdout: one JSON object a line. First {"event":"started","peerId":...}, then a status line every
// second and {"event":"done",...} at the end, each with the counts so far.
import './node20.js'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { gossipsub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import { peerIdFromString } from '@libp2p/peer-id'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { blake2b } from '@noble/hashes/blake2.js'
import { createLibp2p } from 'libp2p'

function parseArgs (argv) {
  const args = { genesis: null, seconds: 30, nodes: [] }
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--genesis') args.genesis = argv[++i]
    else if (argv[i] === '--seconds') args.seconds = Number(argv[++i])
    else args.nodes.push(argv[i])
  }
  if (!/^[0-9a-f]{16}$/.test(args.genesis ?? '') || !(args.seconds > 0) || args.nodes.length === 0) {
    console.error('usage: node peer.js --genesis <16 lowercase hex chars> --seconds <n> <multiaddr/p2p/id>...')
    process.exit(2)
  }
  return args
}

const { genesis, seconds, nodes } = parseArgs(process.argv.slice(2))
const prefix = `/watt/${genesis}`
// The transactions topic is at version 2 (batches of transactions), the others at 1.
const topics = [['tx', 3], ['scp', 2], ['txset', 2]].map(([t, v]) => `${prefix}/${t}/${v}`)

// Watt's message id: blake2b-256(u32_le(len(topic)) ++ topic ++ data). The same bytes on the same
// topic are one message whoever publishes them; with gossipsub's default id (from ++ seqno) our
// IHAVEs would never match the nodes' ids.
function wattMessageId (msg) {
  const topic = new TextEncoder().encode(msg.topic)
  const input = new Uint8Array(4 + topic.length + msg.data.length)
  new DataView(input.buffer).setUint32(0, topic.length, true)
  input.set(topic, 4)
  input.set(msg.data, 4 + topic.length)
  return blake2b(input, { dkLen: 32 })
}

// A gossipsub frame may hold a whole transaction set (up to 9 MiB + 64 KiB with its envelope);
// js-libp2p's default limit of 4 MiB would drop the stream that carries a large one.
const MAX_FRAME = 9 * 1024 * 1024 + 64 * 1024

const node = await createLibp2p({
  start: false,
  // The node only speaks ed25519 (no secp256k1, ECDSA or RSA).
  privateKey: await generateKeyPair('Ed25519'),
  // A follower need not listen: it dials the nodes.
  addresses: { listen: [] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  nodeInfo: { name: 'watt-js-peer', version: '1' },
  services: {
    identify: identify(),
    // Nodes ping every 15 s and close a connection whose ping goes unanswered.
    ping: ping(),
    pubsub: gossipsub({
      globalSignaturePolicy: 'StrictNoSign',
      msgIdFn: wattMessageId,
      maxInboundDataLength: MAX_FRAME
    })
  }
})

// A Watt node closes the connection of a peer whose identify protocolVersion is not
// /watt/<g>/1. js-libp2p has no option for it (it always sends "<protocolPrefix>/0.1.0", and
// protocolPrefix also renames the identify protocol itself), so set the announced value on the
// service's `host` record before the node starts.
node.services.identify.host.protocolVersion = `${prefix}/1`

const counts = {
  received: Object.fromEntries(topics.map(t => [t, 0])),
  // Copies of received messages sent on to other peers (js-libp2p forwards to its mesh).
  forwarded: Object.fromEntries(topics.map(t => [t, 0])),
  // Forwarded copies that went back to the message's own author: the echoes.
  echoes: 0
}

node.services.pubsub.addEventListener('message', (evt) => {
  if (evt.detail.topic in counts.received) counts.received[evt.detail.topic]++
})

// Gossipsub counts forwards only through a metrics registry; wrap the one method that sends
// frames instead. This peer publishes nothing, so every message it sends is one it forwards (or
// an answer to an IWANT, which is forwarding too).
const pubsub = node.services.pubsub
const sendRpc = pubsub.sendRpc.bind(pubsub)
pubsub.sendRpc = (id, rpc) => {
  const sent = sendRpc(id, rpc)
  if (sent) {
    const to = peerIdFromString(id).toMultihash().bytes
    for (const m of rpc.messages ?? []) {
      if (m.topic in counts.forwarded) counts.forwarded[m.topic]++
      if (m.from != null && Buffer.from(m.from).equals(Buffer.from(to))) counts.echoes++
    }
  }
  return sent
}

await node.start()
for (const t of topics) pubsub.subscribe(t)

const started = Date.now()
const report = (event) => {
  const mesh = Object.fromEntries(topics.map(t => [t, pubsub.getMeshPeers(t).length]))
  console.log(JSON.stringify({
    event,
    peerId: node.peerId.toString(),
    elapsed: Math.round((Date.now() - started) / 1000),
    connected: node.getPeers().map(p => p.toString()),
    mesh,
    ...counts
  }))
}
report('started')

const ticker = setInterval(() => report('status'), 1000)
let finishing = false
const finish = async () => {
  if (finishing) return
  finishing = true
  clearInterval(ticker)
  report('done')
  await node.stop()
  process.exit(0)
}
setTimeout(finish, seconds * 1000)
process.on('SIGTERM', finish)
process.on('SIGINT', finish)

// The nodes are up when we are started; retry a few times only for a slow start. No redial
// later: a node that drops or bans this peer must show as a lost connection.
for (const addr of nodes) {
  (async () => {
    for (let attempt = 1; ; attempt++) {
      try {
        await node.dial(multiaddr(addr))
        return
      } catch (e) {
        if (attempt === 10) {
          console.error(`cannot dial ${addr}: ${e.message}`)
          return
        }
        await new Promise(resolve => setTimeout(resolve, 500))
      }
    }
  })()
}

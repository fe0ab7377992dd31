// js-libp2p 3 calls Promise.withResolvers, which Node.js has from version 22 on; Debian 13 and
// this project's machines ship Node.js 20. This is the standard polyfill (ES2024 semantics).
// Imported first by peer.js, so it runs before any libp2p module is evaluated.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers () {
    let resolve, reject
    const promise = new this((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}

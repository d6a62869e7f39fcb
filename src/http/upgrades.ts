import { createServer, ServerResponse } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { FastifyInstance } from 'fastify';

/**
 * Where the HTTP server's upgrade requests go. @fastify/websocket, registered at the root, would
 * see every upgrade, but also put two hooks and a handler wrapper on every route of the app, run
 * by every plain request for nothing. Registered in the scope of its own routes instead, it is
 * handed `source` (an HTTP server that never listens) to take its upgrades from, and only upgrades
 * to `path` reach it there. Any other upgrade is answered as the plain HTTP request it also is
 * (RFC 9110 lets a server ignore Upgrade: the API key's 401, a 404, or the route's answer), on a
 * connection closed once the answer is out: the socket of an upgrade request has left the HTTP
 * server's bookkeeping, so one left open would be a descriptor leaked per such request and a
 * `server.close()` that never returns.
 */
export function routeUpgrades(server: FastifyInstance, path: string): Server {
  const source = createServer();
  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (pathOf(request.url ?? '/') === path) {
      source.emit('upgrade', request, socket, head);
      return;
    }
    answerAsHttp(server, request, socket);
  };
  server.server.on('upgrade', onUpgrade);
  server.addHook('onClose', (_instance, done) => {
    server.server.removeListener('upgrade', onUpgrade);
    done();
  });
  return source;
}

function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

function answerAsHttp(server: FastifyInstance, request: IncomingMessage, socket: Duplex): void {
  // Node takes its own error listener off a socket before it emits 'upgrade'.
  socket.on('error', () => socket.destroy());
  const response = new ServerResponse(request);
  response.shouldKeepAlive = false;
  // An upgrade's socket is a net.Socket; `upgrade` types it as the Duplex it must at least be.
  const connection = socket as Socket;
  response.assignSocket(connection);
  response.once('finish', () => {
    response.detachSocket(connection);
    // Once the answer is flushed, as Node's HTTP server ends a connection it does not keep alive.
    connection.destroySoon();
  });
  server.routing(request, response);
}

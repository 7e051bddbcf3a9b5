/**
 * The `tcp` health check (HAProxy's plain `check`): a server passes when it accepts a TCP
 * connection on its check port (`port`, default the server's own) within `timeout`; the connection
 * is closed at once. Details: `connected`, `connect refused`, `timeout after 1 s`, …
 */
import { registerCheck } from './registry.ts';
import { connectCheck } from './socket.ts';

registerCheck({
  name: 'tcp',
  run(target, config, signal) {
    return connectCheck(target, config, signal, {}, (_socket, finish) => finish(true, 'connected'));
  },
});

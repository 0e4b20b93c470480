import { WatchAlert } from '../../gen/tongxing/records/v1/records.js';
import type { StateChange } from '../store/store.js';
import { encodeView, type Provenance } from './provenance.js';

// Watch-list alerts (重点关注名单), indexed for the member they are for: a
// watched subject signed in at the alert's author, and the watcher issued the
// watch-list sanction. Written blind (no read), one key per alert, under the
// watcher with the newest first: view/alert/<watcher>/<inverted hlc>/<author>/<seq>.

const hlcMax = (1n << 64n) - 1n;

export const alertPrefix = (watcher: string): string => `view/alert/${watcher}/`;

export const alertKey = (watcher: string, at: Provenance): string =>
  `${alertPrefix(watcher)}${(hlcMax - BigInt(at.hlc)).toString(16).padStart(16, '0')}/${at.author}/${at.seq.toString().padStart(16, '0')}`;

export interface AlertView {
  readonly at: Provenance;
  readonly alert: unknown; // WatchAlert JSON
}

export function alertChange(at: Provenance, alert: WatchAlert): StateChange {
  const watcher = Buffer.from(alert.watcher).toString('hex');
  return { key: alertKey(watcher, at), value: encodeView({ at, alert: WatchAlert.toJSON(alert) } satisfies AlertView) };
}

export function alertFromView(view: AlertView): { at: Provenance; alert: WatchAlert } {
  return { at: view.at, alert: WatchAlert.fromJSON(view.alert) };
}

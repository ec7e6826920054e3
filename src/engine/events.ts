/**
 * The engine's diagnostics channels (node:diagnostics_channel): every tunnel's open, up, fail and end,
 * published on the main thread by the engine (never from a worker), and only while a channel has a
 * subscriber, so that an engine nobody watches builds no message. Subscribe with
 * `diagnostics_channel.subscribe(TUNNEL_CHANNELS.end, fn)`; the names are exported from the package root.
 */
import diagnostics from 'node:diagnostics_channel';
import type { C8yTunnelError } from '../errors.js';
import type { TunnelSummary } from './types.js';

/** The names of the tunnel channels. */
export const TUNNEL_CHANNELS = {
  open: 'c8y-tunnel:tunnel:open',
  up: 'c8y-tunnel:tunnel:up',
  fail: 'c8y-tunnel:tunnel:fail',
  end: 'c8y-tunnel:tunnel:end',
} as const;

/** Fields every tunnel message carries. `engine` tells the engines of one process apart (ids are per engine). */
export interface TunnelEventBase {
  /** The engine that carries the tunnel (the object createEngine() returned). */
  engine: object;
  /** The tunnel's id, as in its handle and summary. */
  id: number;
  /** The spec's label (the agent sets the operation id), if any. */
  label: string | undefined;
}

/** `tunnel:open`: engine.open() was called (before the spec is checked: a refused spec ends at once). */
export interface TunnelOpenEvent extends TunnelEventBase {
  host: string;
  port: number;
}

/** `tunnel:up`: both legs are up. */
export interface TunnelUpEvent extends TunnelEventBase {
  /** The thread carrying the tunnel (0 or the main thread's id with `threads: 0`). */
  threadId: number | undefined;
  /** Time from engine.open() to both legs up, ms, measured on the main thread. */
  setupMs: number;
}

/** `tunnel:fail`: the tunnel failed before both legs were up (its `established` rejects with `error`). */
export interface TunnelFailEvent extends TunnelEventBase {
  threadId: number | undefined;
  error: C8yTunnelError;
}

/** `tunnel:end`: the tunnel ended (or never started); the last message of every tunnel. */
export interface TunnelEndEvent extends TunnelEventBase {
  threadId: number;
  summary: TunnelSummary;
}

/** The channels themselves, held here so each publish is one property read when nobody listens. */
export const tunnelChannels = {
  open: diagnostics.channel(TUNNEL_CHANNELS.open),
  up: diagnostics.channel(TUNNEL_CHANNELS.up),
  fail: diagnostics.channel(TUNNEL_CHANNELS.fail),
  end: diagnostics.channel(TUNNEL_CHANNELS.end),
};

/** The scenarios, in run order. */
import type { Ctx } from '../lib/context.js';
import type { ScenarioResult } from '../lib/types.js';
import { scenario3 } from './idle.js';
import { scenario4 } from './latency.js';
import { scenario8 } from './shapes.js';
import { scenario5 } from './setup.js';
import { scenario7 } from './stall.js';
import { scenario1, scenario2, scenario6 } from './throughput.js';

export interface Scenario {
  id: string;
  title: string;
  run(ctx: Ctx): Promise<ScenarioResult>;
}

export const SCENARIOS: Scenario[] = [
  { id: 's1', title: 'one tunnel throughput', run: scenario1 },
  { id: 's2', title: 'many active tunnels', run: scenario2 },
  { id: 's3', title: 'idle scale', run: scenario3 },
  { id: 's4', title: 'latency', run: scenario4 },
  { id: 's5', title: 'session set-up', run: scenario5 },
  { id: 's6', title: 'engine modes', run: scenario6 },
  { id: 's7', title: 'stalled reader', run: scenario7 },
  { id: 's8', title: 'traffic shapes (write and message sizes, wss, mask, one huge frame)', run: scenario8 },
];

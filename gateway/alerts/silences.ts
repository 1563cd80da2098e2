import { firingEventOf, type AlertEvent, type FiringAlert } from './types.js';

/**
 * Silencing a rule for a time (the operator page's alerts view; docs/alerts.md): while a rule is silenced, its
 * alerts still fire and resolve in the engine and show on the page (marked), but nothing is published: no
 * retained MQTT message, no `alerts` point. When the silence ends (its time is up, or it is lifted), what
 * changed meanwhile is published once, so the retained MQTT state matches the engine again: a firing event for
 * each of the rule's alerts firing then that was not published as firing, a resolved event for each that was
 * published as firing and is no longer.
 *
 * Sits between the alert service and the publisher (composition root). Pure: time comes in as arguments.
 * In memory: silences end with the process (a restart publishes every firing alert again, see AlertService.restore).
 */
export interface Silence {
  readonly rule: string;
  readonly until: number;
}

export class AlertSilencer {
  private readonly silences = new Map<string, number>();
  /** The last published firing event of each alert (rule/device/sensor), to reconcile at a silence's end. */
  private readonly published = new Map<string, AlertEvent>();

  constructor(
    private readonly out: (events: readonly AlertEvent[]) => void,
    private readonly firing: () => readonly FiringAlert[],
  ) {}

  /** Publishes the events of rules not silenced at `now`; returns those held back. */
  publish(events: readonly AlertEvent[], now: number): AlertEvent[] {
    this.sweep(now);
    const pass: AlertEvent[] = [];
    const held: AlertEvent[] = [];
    for (const e of events) (this.isSilenced(e.rule, now) ? held : pass).push(e);
    if (pass.length > 0) this.send(pass);
    return held;
  }

  /** Firing states re-published at a restore (AlertService's `retain`): they count as published. */
  noteRetained(events: readonly AlertEvent[]): void {
    for (const e of events) if (e.state === 'firing') this.published.set(keyOf(e), e);
  }

  /** Silences `rule` until `until` (epoch ms; a later call replaces it). */
  silence(rule: string, until: number): void {
    this.silences.set(rule, until);
  }

  /** Ends a silence now; returns false when the rule was not silenced. */
  lift(rule: string, now: number): boolean {
    if (!this.silences.delete(rule)) return false;
    this.reconcile(rule, now);
    return true;
  }

  isSilenced(rule: string, now: number): boolean {
    const until = this.silences.get(rule);
    return until !== undefined && until > now;
  }

  list(now: number): Silence[] {
    this.sweep(now);
    return [...this.silences].map(([rule, until]) => ({ rule, until }));
  }

  /** Ends the silences whose time is up (called on each publish, each list, and by the admin plugin's timer). */
  sweep(now: number): void {
    for (const [rule, until] of this.silences) {
      if (until > now) continue;
      this.silences.delete(rule);
      this.reconcile(rule, now);
    }
  }

  private reconcile(rule: string, at: number): void {
    const now = new Map(
      this.firing()
        .filter((f) => f.rule === rule)
        .map((f) => [keyOf(f), f] as const),
    );
    const events: AlertEvent[] = [];
    for (const [key, f] of now) {
      if (this.published.has(key)) continue;
      events.push(firingEventOf(f));
    }
    for (const [key, e] of this.published) {
      if (e.rule !== rule || now.has(key)) continue;
      events.push({ ...e, state: 'resolved', ts: at, since: at });
    }
    if (events.length > 0) this.send(events);
  }

  private send(events: readonly AlertEvent[]): void {
    for (const e of events) {
      if (e.state === 'firing') this.published.set(keyOf(e), e);
      else this.published.delete(keyOf(e));
    }
    this.out(events);
  }
}

function keyOf(a: { rule: string; device: string; sensor: string }): string {
  return `${a.rule}\u0000${a.device}\u0000${a.sensor}`;
}

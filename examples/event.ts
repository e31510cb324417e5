/**
 * The seed's Event: one click of a user on a URL at a time. Registered so that instances keep
 * their class (and toString) when they cross from one worker thread to another.
 */
import { registerType } from 'weir';

export class Event {
  constructor(
    public user: string,
    public url: string,
    public timestamp: number,
  ) {}

  toString(): string {
    return `Event{user='${this.user}', url='${this.url}', timestamp=${formatTimestamp(this.timestamp)}}`;
  }
}

registerType(Event);

/** yyyy-mm-dd hh:mm:ss.fff in local time, as java.sql.Timestamp prints it. */
function formatTimestamp(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

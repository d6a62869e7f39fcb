import type { RenewalReport } from '../sessions/renewal.js';
import type { Metrics } from './metrics.js';
import { withSession } from './metrics.js';

/** `SessionManagerDeps.onRenewal`: subscriptions renewed, what a renewal gave up on, and how long it took. */
export function renewalObserver(metrics: Metrics): (session: string, report: RenewalReport | null, ms: number) => void {
  return (session, report, ms) => {
    metrics.renewalDuration.observe(ms / 1000);
    const labels = withSession(metrics, session, {});
    if (report === null) {
      metrics.renewalFailures.cell(labels).value += 1;
      return;
    }
    metrics.subscriptionsRenewed.cell(labels).value += report.subscribed;
    metrics.renewalFailures.cell(labels).value += report.failed.length + (report.presence === 'failed' ? 1 : 0);
  };
}

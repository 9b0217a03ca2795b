using static Automator67.Bench.Format;

namespace Automator67.Bench;

/// <summary>Prints the sweeps workload: each pass beside the statements over the same rows, then heartbeat ingestion beside the raw queue.</summary>
public static class SweepReport
{
    public static void Print(SweepResult r)
    {
        Line($"sweeps over {Count(SweepData.Nodes)} nodes ({Count(SweepData.Accounts)} accounts) and {Count(SweepData.Replicas)} replicas ({Count(SweepData.Apps)} apps); rows written in {r.Insert.TotalSeconds:0.0} s");
        Line($"  baselines (median of 3, from the bench): one UPDATE of all {Count(SweepData.Nodes)} nodes {Ms(r.UpdateNodesMs)} ms; one read of all replicas with app and release, and all inventories {Ms(r.ReadFleetMs)} ms");
        Line($"  the control plane's recurring jobs, removed so that passes run only when the bench enqueues them: {string.Join(", ", r.RecurringJobsRemoved)}");
        Console.WriteLine();
        Console.WriteLine("  pass        duration ms  picked up ms  control-plane CPU ms  PostgreSQL CPU ms   ÷ UPDATE all nodes  ÷ read all replicas");
        foreach (var pass in new[] { r.Health, r.Reconcile })
        {
            Line($"  {pass.Sweep,-10} {pass.DurationMs,12:#,0} {pass.Pickup.TotalMilliseconds,13:#,0} {pass.ControlPlaneCpuMs,21:#,0} {(pass.DatabaseCpuMs is { } db ? db.ToString("#,0", System.Globalization.CultureInfo.InvariantCulture) : "-"),18} {X(pass.DurationMs / r.UpdateNodesMs),20} {X(pass.DurationMs / r.ReadFleetMs),20}");
        }

        Console.WriteLine();
        Console.WriteLine("  database activity over each pass (pg_stat_database / pg_stat_user_tables deltas; background: the same counters over a quiet window before it, scaled to the pass's window)");
        Console.WriteLine("  pass        transactions  a67 table scans  a67 rows written  hangfire scans  hangfire rows   (background: transactions, a67 scans, hangfire scans)");
        foreach (var pass in new[] { r.Health, r.Reconcile })
        {
            var (a, b) = (pass.Activity, pass.Background);
            Line($"  {pass.Sweep,-10} {a.Transactions,13:#,0} {a.A67Scans,16:#,0} {a.A67RowsWritten,17:#,0} {a.HangfireScans,15:#,0} {a.HangfireRowsWritten,14:#,0}   ({b.Transactions:#,0}, {b.A67Scans:#,0}, {b.HangfireScans:#,0})");
        }

        Line($"  per node: health {(double)(r.Health.Activity.Transactions - r.Health.Background.Transactions) / SweepData.Nodes:0.00} transactions, {(double)(r.Health.Activity.A67Scans - r.Health.Background.A67Scans) / SweepData.Nodes:0.00} table scans; reconcile {(double)(r.Reconcile.Activity.Transactions - r.Reconcile.Background.Transactions) / SweepData.Nodes:0.00} transactions, {(double)(r.Reconcile.Activity.A67Scans - r.Reconcile.Background.A67Scans) / SweepData.Nodes:0.00} table scans");
        Line($"  what they did: health {r.Health.Detail}; {r.Health.HealsCancelled} heal operation(s) cancelled by the bench after it");
        Line($"                 reconcile {r.Reconcile.Detail}; {r.Reconcile.HealsCancelled} heal operation(s) cancelled by the bench after it");
        Console.WriteLine();

        var i = r.Ingestion;
        Line($"heartbeat ingestion: {Count(i.Events)} signed heartbeats ({HeartbeatIngestion.Beats} from each of {Count(SweepData.SignedNodes)} nodes, 5 containers with stats each); {Count(i.Applied)} applied");
        Line($"  control plane (events consumer, signature checks, one transaction each): {PerSecond(i.EventsPerSecond)} events/s");
        Line($"  raw queue, same messages, no control plane: enqueue (16 senders) {PerSecond(i.RawEnqueuePerSecond)}/s, receive 32 + delete 8 at once {PerSecond(i.RawDequeuePerSecond)}/s");
        Line($"  in the bench, one thread: sign {Ms(i.SignMs)} ms, verify (key import + ES256) {Ms(i.VerifyMs)} ms = {Rate(i.VerifyMs)}/s");
        Line($"  ratio: ingestion ÷ raw receive+delete {X(i.EventsPerSecond / i.RawDequeuePerSecond)}");
        Line($"  CPU per event: control plane {Ms(i.ControlPlaneCpuMs)} ms ({X(i.ControlPlaneCpuMs / i.VerifyMs)} one verify), PostgreSQL {(i.DatabaseCpuMs is { } d ? Ms(d) : "-")} ms");
        Console.WriteLine();
    }
}

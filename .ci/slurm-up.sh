#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for the test that submits the Slurm script of docs/guide/bootstrap.md as a
# job array (tests/suite/slurm.rs). Run as root after `apt-get install slurmctld slurmd
# slurm-client munge` (Debian 12: Slurm 22.05). Idempotent: daemons already answering are kept.
#
# The node is this host with the CPUs and memory `slurmd -C` finds, so tasks really share its
# cores. Authentication is munge with the key the Debian package generated (auth/none is still
# shipped but unsupported upstream). Processes are tracked by process group and no cgroup plugin
# is used: CI machines and containers differ in what cgroups they let root use. KillWait is short
# so that a requeued task is gone in seconds.
set -euo pipefail

state=/var/lib/mixlaw-slurm
mkdir -p "$state"/{ctld,d,log} /etc/slurm /run/munge
host=$(hostname -s)

# munge: the key, its runtime directory and the daemon, as the munge user.
if ! { munge -n </dev/null | unmunge; } >/dev/null 2>&1; then
  if [ ! -s /etc/munge/munge.key ]; then
    mungekey --create --keyfile /etc/munge/munge.key
  fi
  chown munge:munge /etc/munge /etc/munge/munge.key /run/munge
  chmod 700 /etc/munge
  chmod 600 /etc/munge/munge.key
  runuser -u munge -- /usr/sbin/munged
  for _ in $(seq 50); do
    { munge -n </dev/null | unmunge; } >/dev/null 2>&1 && break
    sleep 0.1
  done
fi
munge -n </dev/null | unmunge >/dev/null

# The node as slurmd sees it (CPUs, sockets, cores, memory), named after this host.
node=$(slurmd -C | head -n 1 | sed "s/^NodeName=[^ ]*/NodeName=$host/")
cat >/etc/slurm/slurm.conf <<EOF
ClusterName=mixlaw-ci
SlurmctldHost=$host(127.0.0.1)
AuthType=auth/munge
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/d
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
ProctrackType=proctrack/pgid
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
KillWait=2
MinJobAge=600
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=ci Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF

if ! scontrol ping >/dev/null 2>&1; then
  /usr/sbin/slurmctld
fi
if ! pgrep -x slurmd >/dev/null; then
  /usr/sbin/slurmd
fi

# Until the node takes jobs.
for _ in $(seq 120); do
  s=$(sinfo -h -n "$host" -o %t 2>/dev/null || true)
  case "$s" in
    idle | mix | alloc) sinfo; exit 0 ;;
    down* | drain*) scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true ;;
  esac
  sleep 0.5
done
echo "slurm-up: node $host never became idle (state: ${s:-none})" >&2
tail -n 20 "$state"/log/*.log >&2 || true
exit 1

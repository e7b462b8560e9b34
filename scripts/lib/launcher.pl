#!/usr/bin/perl
# The daemon's launcher (src/process/launcher.ts), started by the daemon, never by hand:
#
#   perl launcher.pl
#
# - It forks worker shims for the daemon, so a start costs the daemon no fork of itself (a Node process of
#   100 MB takes 20-40 ms to fork, blocking its loop; this small process forks in well under a millisecond).
#   Uses perl-base only (POSIX, Fcntl): part of every Debian system.
# - Requests arrive on stdin, each a run of NUL-terminated fields (data is never interpreted by a shell):
#     L SEQ CWD OUT NENV NAME=VALUE... NARGV ARG...
#   OUT says where the child's stdout and stderr go: "|" a new pipe, whose write end they are and whose read end
#   is its fd 3 (the log pipe: the shim hands it to its split); a path, opened to append (the daemon passes
#   /proc/DAEMON/fd/N of a log it holds open); "" /dev/null. The child becomes the leader of a new session
#   (setsid), changes to CWD, gets exactly the environment given, stdin /dev/null, and execs ARG...
# - For each request it answers one line on stdout, once the child has exec'd (a close-on-exec pipe tells):
#     S SEQ PID          started
#     F SEQ REASON       not started (nothing runs)
#   and for each child that ends (it is their parent, and reaps them):
#     X PID STATUS       the wait status
#   An X may come before the S of that pid (a child that ends at once): the daemon keeps it for the S. Answers
#   come in the order the children exec, not the order asked.
# - At the end of stdin (the daemon stopped or died) it exits 0; its children run on, in their own sessions.
use strict;
use warnings;
use POSIX ();
use Fcntl qw(O_WRONLY O_APPEND F_SETFD);

$| = 1;
binmode STDIN;
binmode STDOUT;

sub answer { syswrite STDOUT, $_[0] . "\n" }

# Reaps every ended child and says so, one line per write.
sub reap {
  local ($!, $?);
  while ((my $pid = waitpid(-1, POSIX::WNOHANG())) > 0) { answer("X $pid $?") }
}
# SIGCHLD interrupts the select below, and the handler reaps, at a safe point (perl's deferred signals). A signal that
# lands between perl's last look for one and the select call does not interrupt it, though (select would wait on for
# the next request), so the select also times out (REAP_EVERY seconds), and every wakeup reaps: an end is reported
# within that time at worst, at once as a rule.
$SIG{CHLD} = \&reap;
use constant REAP_EVERY => 0.25;

# Requests are taken from stdin as they come, without waiting for earlier children's execs: each child's
# close-on-exec pipe is watched along with stdin, and answered when it closes.
my $inbuf = '';
my @fields;
my %readying;    # fileno of a child's ready pipe => [handle, seq, pid, what it wrote]

sub fail { my ($seq, $why) = @_; $why =~ s/[\r\n]+/ /g; answer("F $seq $why") }

# One whole request from the fields read so far, or none yet (then nothing is taken).
sub take_request {
  my $i = 0;
  my $next = sub { return $i < @fields ? $fields[$i++] : undef };
  my ($kind, $seq, $cwd, $out, $nenv) = map { $next->() } 1 .. 5;
  return undef unless defined $nenv;
  exit 0 unless $nenv =~ /^\d+$/;
  return undef if $i + $nenv >= @fields;
  my @env = map { $next->() } 1 .. $nenv;
  my $nargv = $next->();
  exit 0 unless $nargv =~ /^\d+$/;
  return undef if $i + $nargv > @fields;
  my @argv = map { $next->() } 1 .. $nargv;
  splice(@fields, 0, $i);
  return [$kind, $seq, $cwd, $out, \@env, \@argv];
}

sub launch {
  my ($kind, $seq, $cwd, $out, $env, $argv) = @{ $_[0] };
  my @env = @$env;
  my @argv = @$argv;
  if ($kind ne 'L' || @argv == 0) { fail($seq, "bad request"); return }
  my ($out_fh, $in_fh);
  if ($out eq '|') {
    unless (pipe($in_fh, $out_fh)) { fail($seq, "cannot make the log pipe: $!"); return }
  } elsif ($out ne '' && !sysopen($out_fh, $out, O_WRONLY | O_APPEND)) { fail($seq, "cannot open the output: $!"); return }
  my ($ready_r, $ready_w);
  unless (pipe($ready_r, $ready_w)) { fail($seq, "pipe: $!"); return }
  my $pid = fork();
  unless (defined $pid) { fail($seq, "fork: $!"); return }
  if ($pid == 0) {
    # The child: nothing of the launcher's but what is given. ($ready_w is close-on-exec: its end tells the parent.)
    $SIG{CHLD} = 'DEFAULT';
    close $ready_r;
    close $_->[0] for values %readying;
    my $die = sub { syswrite $ready_w, "$_[0]: $!"; POSIX::_exit(127) };
    POSIX::setsid() or $die->('setsid');
    chdir $cwd or $die->("cannot change to $cwd");
    open(STDIN, '<', '/dev/null') or $die->('stdin');
    if (defined $out_fh) {
      POSIX::dup2(fileno($out_fh), 1) or $die->('stdout');
      POSIX::dup2(fileno($out_fh), 2) or $die->('stderr');
    } else {
      open(STDOUT, '>', '/dev/null') or $die->('stdout');
      open(STDERR, '>', '/dev/null') or $die->('stderr');
    }
    # dup2 leaves the new descriptor open across exec (fd 3: the log pipe's read end, for the shim's split).
    # (Already fd 3, it only loses its close-on-exec flag: perl sets that on every descriptor it opens past 2.)
    if (defined $in_fh) {
      if (fileno($in_fh) == 3) { fcntl($in_fh, F_SETFD, 0) or $die->('fd 3') }
      else { POSIX::dup2(fileno($in_fh), 3) or $die->('fd 3') }
    }
    %ENV = ();
    for my $pair (@env) {
      my $eq = index($pair, '=');
      $ENV{substr($pair, 0, $eq)} = substr($pair, $eq + 1) if $eq > 0;
    }
    { no warnings 'exec'; exec { $argv[0] } @argv; }
    $die->("cannot run $argv[0]");
  }
  close $ready_w;
  close $out_fh if defined $out_fh;
  close $in_fh if defined $in_fh;
  $readying{ fileno($ready_r) } = [$ready_r, $seq, $pid, ''];
}

while (1) {
  my $rin = '';
  vec($rin, fileno(STDIN), 1) = 1;
  vec($rin, $_, 1) = 1 for keys %readying;
  my $n = select(my $rout = $rin, undef, undef, REAP_EVERY);
  reap();
  next if $n <= 0;    # interrupted (a child ended) or timed out: look again
  for my $fd (keys %readying) {
    next unless vec($rout, $fd, 1);
    my $entry = $readying{$fd};
    my $got = sysread($entry->[0], my $buf, 4096);
    next if !defined $got && $!{EINTR};
    if (defined $got && $got > 0) { $entry->[3] .= $buf; next }
    delete $readying{$fd};
    close $entry->[0];
    if ($entry->[3] eq '') { answer("S $entry->[1] $entry->[2]") } else { fail($entry->[1], $entry->[3]) }
  }
  if (vec($rout, fileno(STDIN), 1)) {
    my $got = sysread(STDIN, my $buf, 65536);
    next if !defined $got && $!{EINTR};
    exit 0 unless $got;
    $inbuf .= $buf;
    my $last = rindex($inbuf, "\0");
    if ($last >= 0) {
      push @fields, split(/\0/, substr($inbuf, 0, $last), -1);
      $inbuf = substr($inbuf, $last + 1);
    }
    while (defined(my $request = take_request())) { launch($request) }
  }
}

#!/usr/bin/perl
# Allocation-heavy Perl workload for bench/run.sh (run under LD_PRELOAD;
# Debian's perl uses the system malloc). Builds a synthetic text from a
# fixed-seed LCG, then does what text-processing scripts do: split into
# words, count them in a hash, build per-prefix arrays, join and sort.
# Strings, hash entries and arrays are created and dropped in waves.
# Prints a checksum of the results so the runner can compare allocators.
#
# Usage: words.pl [lines] [seed]
use strict;
use warnings;

my $lines = shift // 100000;
my $seed  = shift // 42;
my $x     = $seed;

# Own LCG rather than rand(): the checksum must not depend on perl's RNG.
sub lcg { $x = ($x * 1103515245 + 12345) % 2147483648; return $x; }

my @syll = qw(ka ri to ne mu sa lo vi de pa qu zo he ba ti);
my $sum  = 0;
for my $wave (1 .. 2) {
    my (%count, %byprefix, @text);
    for my $l (1 .. $lines) {
        my @w;
        for (1 .. 4 + lcg() % 8) {
            push @w, join('', map { $syll[lcg() % @syll] } 1 .. 1 + lcg() % 4);
        }
        push @text, join(' ', @w);
    }
    for my $line (@text) {
        for my $w (split / /, $line) {
            $count{$w}++;
            push @{ $byprefix{ substr($w, 0, 3) } }, length $w;
        }
    }
    my @top = sort { $count{$b} <=> $count{$a} || $a cmp $b } keys %count;
    my $report = join("\n", map { "$_=$count{$_}" } @top[0 .. 99]);
    for my $k (sort keys %byprefix) {
        $sum = ($sum * 31 + scalar(@{ $byprefix{$k} })) % 4294967296;
    }
    $sum = ($sum * 31 + unpack('%32C*', $report) + scalar(@top)) % 4294967296;
}
printf "words lines=%d checksum=%08x\n", $lines, $sum;

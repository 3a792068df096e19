#!/usr/bin/env perl
# Prints each failed test of the given TRX reports with its message and the top of its stack trace, so that the
# tail of a CI log (often all that is kept) says why a test failed, not only which.
use strict;
use warnings;
binmode STDOUT, ":encoding(UTF-8)";

my $stack_lines = 12;
sub unxml { my $s = shift; $s =~ s/&lt;/</g; $s =~ s/&gt;/>/g; $s =~ s/&quot;/"/g; $s =~ s/&apos;/'/g; $s =~ s/&#x([0-9A-Fa-f]+);/chr(hex $1)/ge; $s =~ s/&#(\d+);/chr $1/ge; $s =~ s/&amp;/&/g; return $s; }

for my $file (@ARGV) {
  open my $fh, '<:encoding(UTF-8)', $file or next;
  local $/;
  my $trx = <$fh>;
  # A result without output is a self-closed element: matched on its own, so it cannot swallow the next one.
  while ($trx =~ m{<UnitTestResult\b([^>]*?)(?:/>|>(.*?)</UnitTestResult>)}gs) {
    my ($attrs, $body) = ($1, $2 // '');
    next unless $attrs =~ /\boutcome="Failed"/;
    my ($name) = $attrs =~ /\btestName="([^"]*)"/;
    my ($duration) = $attrs =~ /\bduration="([^"]*)"/;
    my ($message) = $body =~ m{<Message>(.*?)</Message>}s;
    my ($stack) = $body =~ m{<StackTrace>(.*?)</StackTrace>}s;
    print "---- FAILED: ", unxml($name // '?'), " (", $duration // '?', ")\n";
    print unxml($message // '(no message)'), "\n";
    my @lines = grep { /\S/ } split /\n/, unxml($stack // '');
    print join("\n", @lines[0 .. ($#lines < $stack_lines - 1 ? $#lines : $stack_lines - 1)]), "\n" if @lines;
  }
}

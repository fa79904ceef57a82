# Helpers of the side-by-side comparisons (compare_pytorch.sh, compare_pytorch_cuda.sh); sourced.

# field JSON NAME: the number after "NAME": in a one-line JSON object.
field() { grep -o "\"$2\": *[0-9.]*" <<<"$1" | head -1 | sed 's/.*: *//'; }
# median X...: the middle value (the mean of the two middle ones for an even count).
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# minimum X...
minimum() { printf '%s\n' "$@" | sort -g | head -1; }

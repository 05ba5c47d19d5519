
dup
a.pb
dir/
a.pb
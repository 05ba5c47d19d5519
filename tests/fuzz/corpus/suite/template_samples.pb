
sampled
t.pb*
t.pbgrid*
# The platform app keeps no tables of its own: it holds the plumbing the domain apps share.

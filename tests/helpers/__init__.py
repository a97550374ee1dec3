"""What tests share beyond fixtures: the fake clock, fakes of servers and clients, and small drivers."""

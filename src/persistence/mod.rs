pub mod aof_reader;

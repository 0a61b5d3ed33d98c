"""The published read copy: what readers open while a run writes."""

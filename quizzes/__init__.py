"""Weekly quizzes, concept map, per-student variants, practice mode, BKT mastery and item analysis.

See DESIGN.md, sections "Quizzes" and "Mastery".
"""
